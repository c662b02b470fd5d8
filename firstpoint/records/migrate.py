"""Apply the Alembic migrations to a database URL (``firstpoint db upgrade``).

Alembic itself is imported when a migration runs, not with this module: every
``firstpoint`` command imports this module, and most never migrate twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and ``url``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["url"] = url
    return cfg


def _collapse_stamped_ancestors(cfg: Config, url: str) -> None:
    """Wave 1 shipped two heads (0002 and 0003 both without a parent in the chain);
    the chain is now linear, so a database stamped with both keeps only the newer."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return
            stamped = [row[0] for row in conn.execute(text("SELECT version_num FROM "
                                                           "alembic_version"))]
            if len(stamped) < 2:
                return
            script = ScriptDirectory.from_config(cfg)
            ancestors = {
                rev.revision
                for head in stamped
                for rev in script.iterate_revisions(head, "base")
                if rev.revision != head
            }
            for old in set(stamped) & ancestors:
                conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"),
                             {"v": old})
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` up to ``revision`` (all heads by default)."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    from alembic import command

    cfg = alembic_config(url)
    _collapse_stamped_ancestors(cfg, url)
    command.upgrade(cfg, revision)
