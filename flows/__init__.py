"""Prefect flows that manage QuantConnect projects.

Kept free of imports so that ``python -m flows.demo`` can choose a Prefect home before Prefect
is imported. Import the flows from their modules::

    from flows.lifecycle import temporary_project_lifecycle
    from flows.sweep import sweep_temporary_projects
    from flows.inventory import project_inventory
    from flows.bulk_update import bulk_update_projects, restore_previous_files

and, for a flow of your own that needs a temporary project, the shared mechanism::

    from flows.temporary import cleanup_hooks, temporary_project
"""
