"""The base of every response model, and the lenient helpers the models validate with.

Wire keys are camelCase (``projectId``); Python attributes are snake_case (``project_id``).
Unknown keys are ignored and every field but the ids is optional, because a strict model breaks
the day the service adds a field. Datetimes are accepted as ``2021-11-26T15:18:27.693Z`` or
``2020-09-30 10:30:00`` and always come out timezone-aware (UTC).

Example:
    >>> from quantconnect_client.models import Project
    >>> p = Project.model_validate({"projectId": 7, "name": "Recycle Bin/x", "unknown": 1})
    >>> p.project_id, p.is_deleted
    (7, True)
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from ..errors import UnexpectedResponseError
from ..validation import validate_job_id

logger = logging.getLogger("quantconnect_client")

M = TypeVar("M", bound=BaseModel)

class WireModel(BaseModel):
    """Base of all response models: camelCase aliases, unknown keys ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )

    #: Wire keys whose failure is an error of the whole answer, never dropped (a listing that
    #: is not a list must not read as an empty one).
    essential: ClassVar[frozenset[str]] = frozenset()

    # Wire key -> what arrived there, for the optional fields dropped as unusable.
    _dropped: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _drop_unusable_optional_fields(
        cls, data: Any, handler: ModelWrapValidatorHandler[Any]
    ) -> Any:
        # One odd value (a null name, an empty date, a number where text was expected) must not
        # make a whole listing unreadable: drop the optional fields that fail, keep the rest.
        try:
            return handler(data)
        except ValidationError as error:
            if not isinstance(data, dict):
                raise
            required = {
                field.alias or name
                for name, field in cls.model_fields.items()
                if field.is_required()
            }
            bad = {str(e["loc"][0]) for e in error.errors() if e["loc"]} - required
            if not bad or bad & cls.essential:
                raise
            kept = handler({key: value for key, value in data.items() if key not in bad})
            if isinstance(kept, WireModel):
                kept._dropped.update({key: describe_value(data[key]) for key in sorted(bad)
                                      if key in data})
            return kept

    @property
    def dropped_fields(self) -> dict[str, str]:
        """The answer's fields that were unusable and left out (wire key -> what arrived), so
        a message can say what came instead of only what is missing.

        Example:
            >>> from quantconnect_client.models import Project
            >>> Project.model_validate({"projectId": 7, "created": "soon"}).dropped_fields
            {'created': "a str: 'soon'"}
        """
        return dict(self._dropped)

    @field_validator("*", mode="after")
    @classmethod
    def _naive_datetimes_are_utc(cls, value: Any) -> Any:
        # "2020-09-30 10:30:00" carries no zone; the service means UTC.
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


def describe_value(value: Any) -> str:
    """A short description of a value from an answer, for a message saying what arrived.

    Example:
        >>> describe_value("garbage"), describe_value(float("nan")), describe_value([1, 2])
        ("a str: 'garbage'", 'a float: nan', 'a list of 2')
    """
    kind = type(value).__name__
    article = "an" if kind[:1] in "aeiou" else "a"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple, dict)):
        return f"{article} {kind} of {len(value)}"
    return f"{article} {kind}: {repr(value)[:60]}"


def list_or_empty(value: Any) -> Any:
    """``None`` and ``{}`` (an empty collection, as the service may send it) become ``[]``."""
    return [] if value is None or value == {} else value


def map_or_empty(value: Any) -> Any:
    """``None`` and ``[]`` (the service's empty map) become ``{}``."""
    return {} if value is None or value == [] else value


def usable_job_id(value: str, what: str) -> str:
    """A job id from an answer (``compileId``, ``backtestId``), if a request could use it.

    Used as a field validator: an empty or malformed id fails the answer's validation, so it
    surfaces as an :class:`UnexpectedResponseError` (the service's fault), never later as a
    ``ValidationError`` of the request that would send it back.

    Example:
        >>> usable_job_id("", "backtestId")
        Traceback (most recent call last):
        ...
        quantconnect_client.errors.ValidationError: backtestId '' is not a QuantConnect id.
    """
    return validate_job_id(value, what)


def lenient_items(value: Any, model: type[M], what: str) -> list[M]:
    """Validate a listing item by item: a bad item is dropped (and logged), the rest kept.

    ``None`` and ``{}`` (the service's way of sending an empty collection) are empty; anything
    else that is not a list is an error, since guessing would hide a changed answer.

    Example:
        >>> from quantconnect_client.models import Project
        >>> [p.project_id for p in lenient_items([{"projectId": 1}, {"projectId": None}],
        ...                                      Project, "projects")]
        [1]
    """
    if value is None or value == {}:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} is a {type(value).__name__}, not a list")
    kept: list[M] = []
    for index, item in enumerate(value):
        try:
            kept.append(item if isinstance(item, model) else model.model_validate(item))
        except ValidationError as error:
            logger.warning(
                "Dropped item %d of %s from the answer: %s",
                index,
                what,
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()),
            )
    return kept


def parse(model: type[M], body: Any, endpoint: str) -> M:
    """Validate an answer's payload; an answer of the wrong shape is an
    :class:`UnexpectedResponseError` (never a bare pydantic error)."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in error.errors()
        )
        raise UnexpectedResponseError(
            f"The answer does not have the documented shape ({problems[:300]})",
            endpoint=endpoint,
        ) from None


__all__ = [
    "WireModel",
    "describe_value",
    "lenient_items",
    "list_or_empty",
    "map_or_empty",
    "parse",
    "usable_job_id",
]
