"""The parts of the data generator (`envscale.tasks.datagen.generate_data`), one job each:
id formats (`ids`), check facts (`facts`), the shared state of one run (`state`), one record's
values (`values`), values of JSON fields (`nested`), dates, statuses and totals that follow
each other (`lifecycle`), meeting the runtime invariants (`invariants`), and the report of
what was made (`report`)."""
