"""Table contracts: each table declared once (``schemas.tables``); everything else generated from it."""

from schemas.model import Column, PointGeometry, Table
from schemas.tables import REGISTRY, table

__all__ = ["REGISTRY", "Column", "PointGeometry", "Table", "table"]
