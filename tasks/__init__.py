"""The curriculum: four stages from single events to adversarial incidents."""

from .registry import E1_TASKS, TASKS, E1TaskSpec, TaskSpec, all_task_names, get_task, task_names

__all__ = ["E1_TASKS", "TASKS", "E1TaskSpec", "TaskSpec", "all_task_names", "get_task", "task_names"]
