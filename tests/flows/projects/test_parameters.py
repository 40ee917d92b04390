"""Flow parameter models reject bad input before a run exists, with the rule named."""

from __future__ import annotations

import pydantic
import pytest

from flows.common.options import RetryOptions
from flows.projects.forms import InventoryOptions, LifecycleOptions, SweepOptions


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"name_prefix": "tmp."}, "pattern"),
        ({"name_prefix": " tmp-"}, "must not start or end with a space"),
        ({"name_prefix": ""}, "at least 4 characters"),
        ({"name_prefix": "p"}, "at least 4 characters"),
        ({"name_prefix": "prodtmp"}, "must hold a separator"),
        ({"language": "Java"}, "'Py' or 'C#'"),
        ({"retries": {"task_retries": 9}}, "less than or equal to 5"),
        ({"unknown": 1}, "Extra inputs are not permitted"),
    ],
)
def test_lifecycle_options_reject_bad_values(fields, fragment):
    with pytest.raises(pydantic.ValidationError, match=fragment):
        LifecycleOptions.model_validate(fields)


@pytest.mark.parametrize("prefix", ["p", "pro", "prod", "production"])
def test_the_sweeper_refuses_a_prefix_too_short_or_too_plain_to_mark_names(prefix):
    with pytest.raises(pydantic.ValidationError, match=r"at least 4 characters|separator"):
        SweepOptions(name_prefix=prefix, ttl_minutes=0, purge=True)


def test_defaults_come_from_the_tasks_constants():
    from tasks.batches import DEFAULT_BATCH_CONCURRENCY
    from tasks.retries import DEFAULT_RETRY_DELAY_SECONDS, DEFAULT_TASK_RETRIES

    assert (RetryOptions().task_retries, RetryOptions().retry_delay_seconds) == (
        DEFAULT_TASK_RETRIES, DEFAULT_RETRY_DELAY_SECONDS
    )
    assert SweepOptions().max_concurrency == DEFAULT_BATCH_CONCURRENCY


def test_sweep_and_inventory_options_have_bounds():
    with pytest.raises(pydantic.ValidationError):
        SweepOptions(max_concurrency=0)
    with pytest.raises(pydantic.ValidationError):
        SweepOptions(max_concurrency=33)
    with pytest.raises(pydantic.ValidationError):
        SweepOptions(ttl_minutes=-1)
    assert InventoryOptions().name_pattern == "*"
    assert RetryOptions().task_retries == 2


@pytest.mark.parametrize("field", ["ttl_minutes", "optimizer_lookback_hours"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.5, 1e9])
def test_the_sweepers_durations_are_finite_and_bounded(field, value):
    # NaN compares false to every bound: the rule must still refuse it, not pass it on.
    with pytest.raises(pydantic.ValidationError, match=field):
        SweepOptions.model_validate({field: value})


def test_every_field_has_help_text_for_the_ui_form():
    for model in (LifecycleOptions, SweepOptions, InventoryOptions, RetryOptions):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
