"""Models of ``/compile/*`` answers: a compile, its state and its logs.

Example:
    >>> compiled = Compile.model_validate({"compileId": "abc-123", "state": "BuildSuccess",
    ...                                    "logs": None})
    >>> compiled.done, compiled.succeeded, compiled.logs
    (True, True, [])
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .base import WireModel, list_or_empty, usable_job_id

#: Compile states (an open set: an unknown one is kept as text).
IN_QUEUE, BUILD_SUCCESS, BUILD_ERROR = "InQueue", "BuildSuccess", "BuildError"


class FileParameters(WireModel):
    """Hard-coded literals the compiler found in LEAN API calls of one file (an overfitting
    hint, not the ``get_parameter`` names)."""

    file: str | None = None
    parameters: list[dict[str, Any]] = Field(default_factory=list)


class Compile(WireModel):
    """A compile, as ``/compile/create`` and ``/compile/read`` return it."""

    compile_id: str
    state: str | None = None
    project_id: int | None = None
    signature: str | None = None
    signature_order: list[str] = Field(default_factory=list)
    logs: list[str] = Field(default_factory=list)
    parameters: list[FileParameters] = Field(default_factory=list)

    @field_validator("compile_id")
    @classmethod
    def _usable_id(cls, value: str) -> str:
        return usable_job_id(value, "compileId")

    @field_validator("signature_order", "logs", "parameters", mode="before")
    @classmethod
    def _null_list_is_empty(cls, value: Any) -> Any:
        return list_or_empty(value)

    @property
    def done(self) -> bool:
        """True once the compile has an outcome (any state but ``InQueue``)."""
        return self.state not in (None, IN_QUEUE)

    @property
    def succeeded(self) -> bool:
        """True for ``BuildSuccess``."""
        return self.state == BUILD_SUCCESS


__all__ = ["BUILD_ERROR", "BUILD_SUCCESS", "IN_QUEUE", "Compile", "FileParameters"]
