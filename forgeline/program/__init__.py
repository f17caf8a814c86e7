"""The program layer: what Forgeline shows across a cohort of clients, from each client's own evidence
(smart-factory levels: :mod:`forgeline.program.levels`)."""
