"""Figures and maps drawn from tables: plotly (rosace, roadmap charts) and folium maps
with their offline assets. Never imports the report layer, the command line or the
facades."""
