"""ptsm-diag : diagnostic territorial des Projets Territoriaux de Santé Mentale."""

__version__ = "0.1.0"
