"""The registry of task families: every family OpenSOC serves, and what they add up to on the wire.

``register(family)`` adds one (OpenSOC's three are registered here; a user's, from anywhere before the first
episode). Everything that depends on the set of families is derived from it, never written down twice: the task
names, the action model (one optional field per action name, exactly one given), the observation and grade unions
(discriminated by ``family``) and the reset options.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    create_model,
    model_validator,
)

from ..models import Grade, InvalidParameterError, Observation
from .base import Family, Option
from .e1.family import FlowFamily
from .investigation.family import InvestigationFamily
from .triage.family import TriageFamily

_FAMILIES: list[Family] = []
_derived: dict[str, Any] = {}


def register(family: Family) -> Family:
    """Serve ``family``'s tasks. Its task names, and any action or option it shares with another family, must not
    clash with theirs (the same name must mean the same type)."""
    taken = {t for f in _FAMILIES for t in f.task_names}
    clash = sorted(taken & family.task_names)
    if clash or any(f.name == family.name for f in _FAMILIES):
        raise ValueError(f"family {family.name!r} clashes with a registered family (tasks {clash})")
    for f in _FAMILIES:
        for name in set(f.actions) & set(family.actions):
            if f.actions[name] != family.actions[name]:
                raise ValueError(f"action {name!r} of {family.name!r} differs from {f.name!r}'s")
        for name in set(f.options) & set(family.options):
            if f.options[name].annotation != family.options[name].annotation:
                raise ValueError(f"option {name!r} of {family.name!r} has another type than {f.name!r}'s")
    _FAMILIES.append(family)
    _derived.clear()
    return family


def unregister(name: str) -> None:
    """Stop serving the family ``name`` (tests register and remove their own)."""
    _FAMILIES[:] = [f for f in _FAMILIES if f.name != name]
    _derived.clear()


def families() -> Iterator[Family]:
    return iter(tuple(_FAMILIES))


def family_for(task: str) -> Family | None:
    """The family that serves ``task``, or None when no family does."""
    return next((f for f in _FAMILIES if f.owns(task)), None)


def all_task_names() -> list[str]:
    """Every task served, family by family in registration order: the curriculum, investigation, E1."""
    return [t.name for f in _FAMILIES for t in f.tasks()]


def task_overview() -> list[dict[str, Any]]:
    """Every task by family, as ``GET /tasks`` and ``opensoc tasks`` show them."""
    return [t.overview() for f in _FAMILIES for t in f.tasks()]


def action_names() -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for f in _FAMILIES for name in f.actions))


def reset_options() -> dict[str, Option]:
    """Every reset option some family takes (the first family's description where two share one)."""
    options: dict[str, Option] = {}
    for f in _FAMILIES:
        for name, option in f.options.items():
            options.setdefault(name, option)
    return options


def _cached(key: str, build: Any) -> Any:
    if key not in _derived:
        _derived[key] = build()
    return _derived[key]


class ActionBase(BaseModel):
    """What every ``OpenSOCAction`` model is: closed, uncoerced, with exactly one action given (``name``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @property
    def name(self) -> str:
        return next(n for n in type(self).model_fields if getattr(self, n) is not None)


def action_model() -> type[ActionBase]:
    """``OpenSOCAction``: one optional field per action name of the registered families, exactly one given."""

    def build() -> type[ActionBase]:
        names = action_names()

        def exactly_one(self: ActionBase) -> ActionBase:
            if sum(getattr(self, n) is not None for n in names) != 1:
                raise ValueError("an action holds exactly one of " + ", ".join(f"'{n}'" for n in names))
            return self

        content = {n: next(f.actions[n] for f in _FAMILIES if n in f.actions) for n in names}
        return create_model(  # type: ignore[call-overload, no-any-return]
            "OpenSOCAction", __base__=ActionBase,
            __doc__="A step's action: exactly one of " + ", ".join(names) + ".",
            __validators__={"_exactly_one": model_validator(mode="after")(exactly_one)},
            **{n: (t | None, Field(default=None)) for n, t in content.items()})

    return _cached("action", build)


def _union(models: list[type[BaseModel]]) -> Any:
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="family")]  # noqa: UP007


def observation_type() -> Any:
    """The observation union, discriminated by ``family``: what ``/schema`` describes and clients parse."""
    return _cached("observation_type", lambda: _union([f.observation for f in _FAMILIES]))


def observation_adapter() -> TypeAdapter[Observation]:
    return _cached("observation", lambda: TypeAdapter(observation_type()))


def grade_type() -> Any:
    """The grade union, discriminated by ``family``."""
    return _cached("grade_type", lambda: _union([f.grade_model for f in _FAMILIES]))


def grade_adapter() -> TypeAdapter[Grade]:
    return _cached("grade", lambda: TypeAdapter(grade_type()))


def require_family(task: Any) -> Family:
    """The family of ``task``; an unknown task is refused, naming every task there is."""
    family = family_for(task) if isinstance(task, str) else None
    if family is None:
        names = all_task_names()
        raise InvalidParameterError(f"unknown task {str(task)[:64]!r}; expected one of: {', '.join(names)}",
                                    field="task", expected=names)
    return family


for _family in (TriageFamily(), InvestigationFamily(), FlowFamily()):
    register(_family)
