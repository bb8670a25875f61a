"""The manager's side of Baton: who sees which instances and tasks (`visibility`), the overview of late
and stalled work with nudge and reassign (`overview`), the searchable instance list (`listing`), the
pipeline board (`board`), cycle-time analytics per process version (`analytics`, `figures`, `flow`; the
figures of big versions kept by the worker in `snapshots`), and
the exports: CSV (`exports`) and each person's iCalendar feed (`calendar`).

Everything here reads the stored rows (instances, task rows, events), never a workflow, so these views
cost the same whether an instance is short or long."""
