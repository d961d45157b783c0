"""All Kubernetes API I/O of the controller goes through here (writes, and reads not served by the
watch cache), so the number and shape of API calls is visible in one place."""
