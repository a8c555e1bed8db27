"""A registered model version, as lineage passes it around: typed (never "name/3" split again),
hashable, sortable by ``sort_key``, stored in records as ``{name, version}`` (a dataclass, which
``dataclasses.asdict`` writes as that mapping). Its own module so that commands which only list
runs (`lineage log`) need not build the REF grammar's types."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelVersion:
    """What `name/3` names once resolved."""

    name: str
    version: int

    def __str__(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def sort_key(self) -> tuple[str, int]:
        return self.name, self.version
