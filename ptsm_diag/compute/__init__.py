"""Tables in, tables out: the computations of a diagnostic.

Territory, indicators, resources, densities, accessibility, cooperation, gaps, roadmap
and the regional comparison. Modules here read no file, draw no figure and know nothing
of notebooks, the command line or the demo: every input is a table (or a catalogue entry)
given by the caller. ``tests/test_architecture.py`` checks it.
"""
