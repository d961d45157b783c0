"""Validation rules written once and rendered twice: as CEL for the CRD, as Python for the models.

A :class:`Rule` is a pydantic annotation. Put on a field (``Annotated[str, rule]``) it validates the
value in Python and adds itself to the field's ``x-kubernetes-validations`` in the JSON schema, so
the API server checks the same thing with the same message. Rules on a whole object (e.g. "exactly
one of template/templateRef") are listed in the model's ``cel_rules`` instead (see
:class:`module_controller.api.common.KubeModel`).

Regular expressions come from :mod:`.constants` and are used verbatim by both sides; CEL's
``matches`` is RE2, so the patterns stick to the common subset (anchors, classes, groups).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from . import constants as c

X_VALIDATIONS = "x-kubernetes-validations"
X_INT_OR_STRING = "x-kubernetes-int-or-string"
X_PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields"


def cel_string(text: str) -> str:
    """``text`` as a CEL string literal (backslashes and quotes escaped; characters outside
    printable ASCII as ``\\uXXXX``, so the CRDs hold no invisible characters)."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return "'" + "".join(ch if " " <= ch <= "~" else
                         (f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
                         for ch in escaped) + "'"


def python_regex(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern with RE2's meaning of ``$`` (end of text, not before a final newline)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def matches(pattern: str, value: Any) -> bool:
    """CEL ``value.matches(pattern)`` in Python: an unanchored search, like RE2's."""
    return isinstance(value, str) and python_regex(pattern).search(value) is not None


@dataclass(frozen=True)
class Rule:
    """One validation rule: a CEL expression over ``self``, its Python twin and the message.

    ``check`` receives the validated value (for a field) or the model instance (for ``cel_rules``)
    and returns True when the value is valid.
    """

    cel: str
    message: str
    check: Callable[[Any], bool] = field(compare=False)
    #: Where the API server reports a failure, relative to ``self`` (e.g. ``.port``), when that is
    #: clearer than the object the rule sits on.
    field_path: str | None = None

    def to_crd(self) -> dict[str, str]:
        crd = {"rule": self.cel, "message": self.message}
        if self.field_path:
            crd["fieldPath"] = self.field_path
        return crd

    def validate(self, value: Any) -> Any:
        if not self.check(value):
            raise ValueError(self.message)
        return value

    # pydantic hooks: used when the rule is an ``Annotated`` metadata item on a field.
    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.validate, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault(X_VALIDATIONS, []).append(self.to_crd())
        return json_schema


def pattern_rule(pattern: str, message: str) -> Rule:
    """The string must match ``pattern`` (anchored in the pattern itself)."""
    return Rule(f"self.matches({cel_string(pattern)})", message, lambda v: matches(pattern, v))


class IntOrString:
    """Marks an ``int | str`` field as Kubernetes int-or-string (no ``anyOf`` in the schema)."""

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {X_INT_OR_STRING: True}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _port_name_ok(value: str) -> bool:
    return (len(value) <= c.PORT_NAME_MAX_LENGTH and matches(c.PORT_NAME_PATTERN, value)
            and matches("[a-z]", value) and "--" not in value)


# --- The rules the models use --------------------------------------------------------------

MODULE_NAME_RULE = pattern_rule(
    c.MODULE_NAME_PATTERN,
    "module name must be a DNS-1035 label: lower-case letters, digits and '-', starting with a "
    "letter and ending with a letter or digit (it becomes part of the base pod label key "
    f"'{c.MODULE_LABEL_PREFIX}<name>' and of the Service name '<name>{c.SERVICE_NAME_SUFFIX}')",
)
MODULE_VERSION_RULE = pattern_rule(
    c.LABEL_VALUE_PATTERN,
    "module version must be a valid label value: letters, digits, '-', '_' and '.', starting and "
    f"ending with a letter or digit (it is written into the label '{c.LABEL_MODULE_VERSION}')",
)
URL_RULE = pattern_rule(
    c.URL_PATTERN,
    "url must be an absolute URL with one of the schemes "
    + ", ".join(f"{s}://" for s in c.URL_SCHEMES)
    + " and no whitespace or control characters (nor invisible format or bidirectional "
    "control characters)",
)
MD5_RULE = pattern_rule(c.MD5_PATTERN, "md5 must be 32 hexadecimal digits")
DNS_SUBDOMAIN_RULE = pattern_rule(
    c.DNS1123_SUBDOMAIN_PATTERN,
    "must be a DNS-1123 subdomain (an object name): lower-case letters, digits, '-' and '.', "
    "starting and ending with a letter or digit",
)
MAX_UNAVAILABLE_RULE = Rule(
    f"type(self) == int ? self >= 0 && self <= {c.MAX_REPLICAS} : "
    f"self.matches({cel_string(c.PERCENT_PATTERN)})",
    f"maxUnavailable must be an integer from 0 to {c.MAX_REPLICAS} or a percentage from 0% to "
    "100% (e.g. 25%)",
    lambda v: 0 <= v <= c.MAX_REPLICAS if _is_int(v) else matches(c.PERCENT_PATTERN, v),
)
# 0 is "not set" (what upstream's Go defaulting stores; a Service's targetPort 0 means the port).
TARGET_PORT_RULE = Rule(
    f"type(self) == int ? self == 0 || (self >= {c.PORT_MIN} && self <= {c.PORT_MAX}) : "
    f"self.size() <= {c.PORT_NAME_MAX_LENGTH} && self.matches({cel_string(c.PORT_NAME_PATTERN)})"
    " && self.matches('[a-z]') && !self.contains('--')",
    f"targetPort must be a port number {c.PORT_MIN}-{c.PORT_MAX} (0: same as port) or an IANA "
    f"port name (at most "
    f"{c.PORT_NAME_MAX_LENGTH} lower-case letters, digits and '-', with a letter, no '--', not "
    "starting or ending with '-')",
    lambda v: v == 0 or c.PORT_MIN <= v <= c.PORT_MAX if _is_int(v) else _port_name_ok(v),
)


def name_length_rule(kind: str, max_length: int, why: str) -> Rule:
    """Object-level rule (CEL ``self`` = the whole object) limiting ``metadata.name``.

    Only the root of a CRD schema may look at metadata.name, so this goes in the top-level model's
    ``cel_rules``. Objects not yet named (generateName in Python) pass.
    """
    return Rule(
        f"!has(self.metadata.name) || self.metadata.name.size() <= {max_length}",
        f"metadata.name of a {kind} may have at most {max_length} characters: {why}",
        lambda obj: obj.metadata.name is None or len(obj.metadata.name) <= max_length,
        # No fieldPath: the API server only accepts paths the schema declares, and the root
        # `metadata` must stay a bare `type: object`. The message names the field instead.
    )
