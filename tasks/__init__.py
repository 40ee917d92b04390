"""Prefect tasks and the credentials block for QuantConnect (run from the checkout).

Example:
    >>> from tasks import QuantConnectCredentials, create_project, delete_project
    >>> from tasks import compile_project, start_backtest, wait_for_backtest
"""

from .backtests import (
    backtest_name,
    backtest_node_count,
    compile_project,
    delete_backtest,
    delete_running_backtests,
    find_backtest,
    find_started_backtest,
    read_backtest,
    read_equity,
    start_backtest,
    stop_running_backtests,
    try_start_backtest,
    upload_strategy,
    wait_for_backtest,
)
from .batches import (
    BatchIncompleteError,
    Outcome,
    Outcomes,
    delete_projects,
    read_files,
    update_projects,
)
from .credentials import QuantConnectCredentials
from .files import list_files, read_file, update_file
from .objectstore import (
    delete_object,
    download_object,
    list_objects,
    read_object_properties,
    upload_object,
)
from .optimizations import (
    abort_optimization,
    delete_optimization,
    estimate_optimization,
    list_optimizations,
    optimization_name,
    read_optimization,
    rename_optimization,
    start_optimization,
    wait_for_optimization,
)
from .projects import (
    ReadBackError,
    authenticate,
    create_project,
    delete_project,
    list_projects,
    project_status,
    read_project,
    update_project,
)
from .retries import api_task_options, retry_only_transient_errors, with_api_retries

__all__ = [
    "BatchIncompleteError",
    "Outcome",
    "Outcomes",
    "QuantConnectCredentials",
    "ReadBackError",
    "abort_optimization",
    "api_task_options",
    "authenticate",
    "backtest_name",
    "backtest_node_count",
    "compile_project",
    "create_project",
    "delete_backtest",
    "delete_object",
    "delete_optimization",
    "delete_project",
    "delete_projects",
    "delete_running_backtests",
    "download_object",
    "estimate_optimization",
    "find_backtest",
    "find_started_backtest",
    "list_files",
    "list_objects",
    "list_optimizations",
    "list_projects",
    "optimization_name",
    "project_status",
    "read_backtest",
    "read_equity",
    "read_file",
    "read_files",
    "read_object_properties",
    "read_optimization",
    "read_project",
    "rename_optimization",
    "retry_only_transient_errors",
    "start_backtest",
    "start_optimization",
    "stop_running_backtests",
    "try_start_backtest",
    "update_file",
    "update_project",
    "update_projects",
    "upload_object",
    "upload_strategy",
    "wait_for_backtest",
    "wait_for_optimization",
    "with_api_retries",
]
