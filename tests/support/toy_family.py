"""A small task family written from the tests alone: guess a die's face.

It proves the family protocol is the whole of what a family needs: registered with ``families.registry.register``,
it runs through the same contract test as OpenSOC's own families, in process, over HTTP and over ``/ws``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field

from opensoc.families.base import (
    Episode,
    Family,
    Option,
    ResetRequest,
    TaskInfo,
    refuse_options,
)
from opensoc.families.runs import AttackerRun
from opensoc.models import FieldError, Grade, InvalidParameterError, Observation


class DieObservation(Observation):
    family: Literal["dice"] = "dice"
    sides: int = Field(description="How many faces the die has.")
    face: int | None = Field(default=None, description="The face thrown, once guessed.")


class DieGrade(Grade):
    family: Literal["dice"] = "dice"
    face: int


@dataclass
class DieEpisode(Episode):
    sides: int = 6
    face: int = 1
    guess: int | None = None


class DiceFamily(Family):
    name = "dice"
    observation = DieObservation
    grade_model = DieGrade
    actions: ClassVar[dict[str, Any]] = {"guess_face": int}
    options: ClassVar[dict[str, Option]] = {"sides": Option(int, "Faces of the die: 4, 6 or 20.", [4, 6, 20],
                                                            default=6)}

    def tasks(self) -> list[TaskInfo]:
        return [TaskInfo("dice_guess", self.name, "Guess the face", "Guess a fair die's face from its seed.")]

    def reset(self, request: ResetRequest, run: AttackerRun) -> DieEpisode:
        refuse_options(request, self)
        sides = request.options.get("sides", 6)
        if sides not in (4, 6, 20):
            raise InvalidParameterError(f"a die has 4, 6 or 20 sides, not {sides!r}", field="sides",
                                        expected=[4, 6, 20])
        face = random.Random(f"dice:{request.seed}:{sides}").randint(1, sides)
        return DieEpisode(episode_id=request.episode_id or str(uuid.uuid4()), task=request.task, mode="defender_only",
                          seed=request.seed, phase="awaiting_defender", sides=sides, face=face)

    def legal_actions(self, episode: Episode) -> list[str]:
        return [] if episode.done else ["guess_face"]

    def step(self, episode: Episode, action: str, content: Any, run: AttackerRun) -> None:
        assert isinstance(episode, DieEpisode)
        if isinstance(content, bool) or not isinstance(content, int):
            episode.errors = [FieldError(loc="guess_face", msg="a face is an integer", type="int_type")]
            episode.finish(-1.0)
            return
        episode.guess = content
        episode.finish(1.0 if content == episode.face else 0.0)

    def observe(self, episode: Episode) -> DieObservation:
        assert isinstance(episode, DieEpisode)
        return DieObservation(role=episode.role, episode_id=episode.episode_id, task=episode.task, mode="defender_only",
                              seed=episode.seed, prompt="" if episode.done else f"Guess a face from 1 to {episode.sides}.",
                              legal_actions=self.legal_actions(episode), sides=episode.sides,
                              face=episode.face if episode.done else None, errors=episode.errors, done=episode.done,
                              reward=episode.last_reward)

    def grade(self, episode: Episode) -> DieGrade:
        assert isinstance(episode, DieEpisode) and episode.last_reward is not None
        return DieGrade(episode_id=episode.episode_id, task=episode.task, mode="defender_only",
                        score=episode.last_reward, defender_reward=episode.last_reward, attacker_reward=None,
                        defender_score=episode.last_reward, attacker_score=None, face=episode.face)


