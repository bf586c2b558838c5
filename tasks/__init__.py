"""The curriculum: four stages from single events to adversarial incidents."""

from .registry import TASKS, TaskSpec, get_task, task_names

__all__ = ["TASKS", "TaskSpec", "get_task", "task_names"]
