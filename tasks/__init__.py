"""The curriculum (``registry``: four stages from single events to adversarial incidents) and OpenEnv's Task API over
every family's tasks (``catalog``)."""

from .registry import TASKS, TaskSpec, get_task, task_names

__all__ = ["TASKS", "TaskSpec", "get_task", "task_names"]
