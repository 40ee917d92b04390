"""Prefect tasks and the credentials block for QuantConnect (run from the checkout).

Example:
    >>> from tasks import QuantConnectCredentials, create_project, delete_project
"""

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
    "api_task_options",
    "authenticate",
    "create_project",
    "delete_project",
    "delete_projects",
    "list_files",
    "list_projects",
    "project_status",
    "read_file",
    "read_files",
    "read_project",
    "retry_only_transient_errors",
    "update_file",
    "update_project",
    "update_projects",
    "with_api_retries",
]
