"""The JSON the fake Arklet answers with, per flavour: envelopes, biz entries, health figures.

Pure functions of the state :mod:`.core` hands them. Field order, omitted nulls, state spelling
and the recorded figures follow the real bases (2023: sofa-serverless 0.5.6, 2025:
koupleless 2.1.6).
"""

from __future__ import annotations

import time
from typing import Any

from .vocabulary import FAILED, INSTALL, INTERNAL_ERROR, NPE, SWITCH, UNINSTALL, VALIDATION, Biz, Reply

# Generic top-level messages of a FAILED envelope; the real reason goes in data.message.
_FAILED_MESSAGES = {
    INSTALL: "install biz not success!",
    UNINSTALL: "uninstall biz not success!",
    SWITCH: "switch biz not success!",
}

#: Java package of each generation's Arklet, for exception class names in errorStackTrace.
ARKLET_PACKAGE = {
    "2023": "com.alipay.sofa.serverless.arklet.core",
    "2025": "com.alipay.sofa.koupleless.arklet.core",
}

_WORK_DIR = "/home/admin/sofa-ark"


def format_started_at(now: float) -> str:
    """``HH:mm:ss,SSS`` local time, as in "Install Biz: ... started at: 13:15:17,437"."""
    millis = int(now * 1000) % 1000
    return time.strftime("%H:%M:%S", time.localtime(now)) + f",{millis:03d}"


def _stamp(now: float) -> str:
    """``yyyyMMddHHmmssSSS``, the time in an unpack directory's name."""
    return time.strftime("%Y%m%d%H%M%S", time.localtime(now)) + f"{int(now * 1000) % 1000:03d}"


def unpack_dir(flavour: str, name: str, version: str, now: float) -> str:
    """Where a base unpacks a biz jar (``bizTempWorkDir``)."""
    if flavour == "2025":
        return f"{_WORK_DIR}/{name}-{version}-{_stamp(now)}-unpack"
    return f"{_WORK_DIR}/null-null-{_stamp(now)}-unpack"  # sic, as 0.5.6 names it


def render_state(flavour: str, state: str) -> str:
    """Biz states are stored upper-case: 2023 answers ``ACTIVATED``, 2025 ``activated``."""
    return state.lower() if flavour == "2025" else state.upper()


# ----------------------------------------------------------------------- envelopes


def envelope(code: str, *, message: str | None = None, data: Any = None,
             error_stack_trace: str | None = None) -> Reply:
    # Null fields are omitted and keys come sorted, as the JVM's serialiser writes them.
    env: dict[str, Any] = {"code": code}
    if data is not None:
        env["data"] = data
    if error_stack_trace is not None:
        env["errorStackTrace"] = error_stack_trace
    if message is not None:
        env["message"] = message
    return Reply(env)


def failed(command: str, data_code: str, message: str, elapsed_space: int | None = None) -> Reply:
    """A ``FAILED`` envelope: a generic top-level message, the reason in ``data``."""
    data: dict[str, Any] = {"code": data_code}
    if elapsed_space is not None:
        data["elapsedSpace"] = elapsed_space
    data["message"] = message
    return envelope(FAILED, data=data,
                    message=_FAILED_MESSAGES.get(command, f"{command} not success!"))


def internal_error(flavour: str, command: str, reason: str, kind: str = VALIDATION) -> Reply:
    """``CMD_PROCESS_INTERNAL_ERROR``: ``Internal Error: <reason>`` plus a JVM-like trace.

    ``kind`` picks the first trace line as the real handlers throw it: a validation exception
    with the reason, an ``ArkletRuntimeException`` wrapping a Java cause (``reason`` is that
    cause's text), or a bare NullPointerException.
    """
    package = ARKLET_PACKAGE[flavour]
    if kind == NPE:
        first = f"java.lang.NullPointerException: {reason}"
    else:
        first = f"{package}.common.exception.{kind}: {reason}"
    handler = command[:1].upper() + command[1:] + "Handler"
    step = "validate" if kind == VALIDATION else "handle"
    trace = (
        f"{first}\n"
        f"\tat {package}.command.builtin.handler.{handler}.{step}({handler}.java)\n"
        f"\tat {package}.command.CommandServiceImpl.process(CommandServiceImpl.java)\n"
        f"\tat {package}.api.tunnel.http.netty.NettyHttpServer$NettyHttpHandler"
        f".channelRead0(NettyHttpServer.java)\n"
    )
    return envelope(INTERNAL_ERROR, message=f"Internal Error: {reason}", error_stack_trace=trace)


def install_space(key: str) -> int:
    """``elapsedSpace`` of a success: not a time (1.3 s installs report ~120000); a number of
    the recorded magnitude, stable per biz."""
    return 70000 + sum(key.encode()) * 37 % 60000


def repeat_space(key: str) -> int:
    """``elapsedSpace`` of a REPEAT_BIZ answer (recorded: 768-8512)."""
    return 700 + sum(key.encode()) * 13 % 1500


# ----------------------------------------------------------------------- bizzes


def biz_entry(flavour: str, biz: Biz) -> dict[str, Any]:
    """A ``queryAllBiz`` entry (2.1.6's ``bizStateRecords`` are empty objects, sic)."""
    out: dict[str, Any] = {"bizName": biz.name, "bizState": render_state(flavour, biz.state)}
    if flavour == "2025":
        out["bizStateRecords"] = [{} for _ in range(biz.records)]
    out.update(bizVersion=biz.version, mainClass=biz.main_class,
               webContextPath=biz.web_context_path)
    return out


def biz_brief(flavour: str, biz: Biz) -> dict[str, Any]:
    """A ``health`` ``bizListInfo`` entry."""
    return {"bizName": biz.name, "bizState": render_state(flavour, biz.state),
            "bizVersion": biz.version, "webContextPath": biz.web_context_path}


def biz_model(flavour: str, biz: Biz) -> dict[str, Any]:
    """The whole biz model an install success carries in ``bizInfos``."""
    unpacked = f"file:{biz.work_dir}/"
    out: dict[str, Any] = {"attributes": {}, "bizName": biz.name,
                           "bizState": render_state(flavour, biz.state)}
    if flavour == "2025":
        out["bizStateRecords"] = [{} for _ in range(biz.records)]
    out["bizTempWorkDir"] = biz.work_dir
    if flavour == "2025":
        out["bizUrl"] = unpacked
    out.update({
        "bizVersion": biz.version,
        "classPath": [unpacked, f"{unpacked}lib"],
        "declaredMode": True,
        "denyImportClasses": [],
        "denyImportPackageNodes": [],
        "denyImportPackageStems": [],
        "denyImportPackages": [],
        "denyImportResources": [],
        "denyPrefixImportResourceStems": [],
        "denySuffixImportResourceStems": [],
        "identity": biz.key,
        "injectExportPackages": [],
        "injectPluginDependencies": [],
        "mainClass": biz.main_class,
        "priority": biz.priority,
        "webContextPath": biz.web_context_path,
    })
    return out


# ----------------------------------------------------------------------- health


#: The JVM's uptime in the first recorded health answer.
RECORDED_RUN_TIME = 141.745


def master_biz(flavour: str, name: str, version: str) -> dict[str, Any]:
    """The base's own biz (``masterBizInfo``), always activated."""
    return {"bizName": name, "bizState": render_state(flavour, "ACTIVATED"),
            "bizVersion": version, "webContextPath": "/"}


def health_data(flavour: str, kind: str | None, master: dict[str, Any],
                biz_list: list[dict[str, Any]], *, ready: bool,
                run_time: float = RECORDED_RUN_TIME) -> dict[str, Any] | None:
    """``healthData`` for a ``health`` request of ``type`` ``kind`` (None: all of it); None for
    a type the base does not know. ``ready`` is the 2023 base's readiness (2025 has none)."""
    system: dict[str, Any] = {"jvm": jvm_figures(flavour, len(biz_list) - 1, run_time), "cpu": CPU,
                              "masterBizInfo": master}
    readiness = {"readinessState": "ACCEPTING_TRAFFIC" if ready else "REFUSING_TRAFFIC"}
    plugins = PLUGINS[flavour]
    if kind is None:
        health: dict[str, Any] = {**system, "pluginListInfo": plugins}
        if flavour == "2023":
            health["masterBizHealth"] = readiness
        health["bizListInfo"] = biz_list
    elif kind == "system":
        health = dict(system)
        if flavour == "2023":
            health["masterBizHealth"] = readiness
    elif kind == "biz":
        health = {"bizListInfo": biz_list}
    elif kind == "plugin":
        health = {"pluginListInfo": plugins}
    else:
        return None
    return health


def jvm_figures(flavour: str, bizzes: int, run_time: float = RECORDED_RUN_TIME) -> dict[str, Any]:
    """``healthData.jvm``: recorded figures, memory and class counts growing with the bizzes;
    ``run time(s)`` is the JVM's uptime, as on a real base (it starts again after a restart)."""
    n = bizzes
    used = 48.0 + 33.5 * n
    jvm: dict[str, Any] = {
        "max non heap memory(M)": -9.5367431640625e-07,
        "java version": "17.0.15",
        "max memory(M)": 6028.0,
        "max heap memory(M)": 6028.0,
        "used heap memory(M)": used,
        "used non heap memory(M)": 79.5 + 0.7 * n,
        "loaded class count": 11648 + 8 * n,
        "init non heap memory(M)": 7.3125,
        "total memory(M)": 176.0,
        "free memory(M)": max(0.0, 176.0 - used),
        "unload class count": 2,
        "total class count": 11650 + 8 * n,
        "committed heap memory(M)": 176.0,
        "java home": "/opt/java",
        "init heap memory(M)": 380.0,
        "committed non heap memory(M)": 81.6875,
        "run time(s)": round(run_time, 3),
    }
    if flavour == "2025":  # 2.1.6 adds metaspace figures, in bytes
        jvm["java max metaspace"] = -1
        jvm["java committed metaspace"] = 58130432 + 131072 * n
        jvm["java used metaspace"] = 57513712 + 131072 * n
    return jvm


CPU: dict[str, Any] = {
    "count": 2, "total used (%)": 242570.0, "type": "fake", "user used (%)": 73.4,
    "free (%)": 5.7, "system used (%)": 19.1,
}

PLUGINS: dict[str, list[dict[str, str]]] = {
    "2025": [{
        "artifactId": "koupleless-base-plugin", "groupId": "com.alipay.sofa.koupleless",
        "pluginActivator": "com.alipay.sofa.koupleless.plugin.ServerlessRuntimeActivator",
        "pluginName": "koupleless-base-plugin",
        "pluginUrl": "file:/app/base.jar!/BOOT-INF/lib/koupleless-base-plugin-2.1.6.jar!/",
        "pluginVersion": "2.1.6",
    }],
    "2023": [{
        "artifactId": "sofa-serverless-adapter-log4j2", "groupId": "com.alipay.sofa.serverless",
        "pluginActivator": "com.alipay.sofa.serverless.adapter.Log4j2AdapterActivator",
        "pluginName": "sofa-serverless-adapter-log4j2",
        "pluginUrl": "file:/app/base.jar!/BOOT-INF/lib/sofa-serverless-adapter-log4j2-0.5.6.jar!/",
        "pluginVersion": "0.5.6",
    }, {
        "artifactId": "sofa-serverless-base-plugin", "groupId": "com.alipay.sofa.serverless",
        "pluginActivator": "com.alipay.sofa.serverless.plugin.ServerlessRuntimeActivator",
        "pluginName": "sofa-serverless-base-plugin",
        "pluginUrl": "file:/app/base.jar!/BOOT-INF/lib/sofa-serverless-base-plugin-0.5.6.jar!/",
        "pluginVersion": "0.5.6",
    }],
}
