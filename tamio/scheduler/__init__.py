"""The scheduler: jobs on a slot grid, run once across replicas by claim rows (see ``setup``)."""
