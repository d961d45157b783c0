"""The imperative shell: kopf watches feed keyed work queues; reconcilers apply planner decisions."""
