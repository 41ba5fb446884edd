"""What the documents say matches the code. The README's configuration table names every environment variable
`config/settings.py` reads, and nothing the product does not read (a row may be read elsewhere: the Makefile's
port): a newcomer configuring an installation needs the whole list, and a stale row misleads. And every file a
document names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READS = re.compile(r"""(?:os\.environ\.get|os\.environ\[|env_bool|env_list)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")


def configuration_table() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_the_readme_lists_every_variable_the_settings_read():
    read = set(READS.findall((ROOT / "config" / "settings.py").read_text()))
    assert len(read) > 30  # the pattern still finds how settings.py reads the environment
    listed = configuration_table()
    assert read - listed == set(), "read by config/settings.py, missing from README's configuration table"
    elsewhere = "\n".join(p.read_text() for p in [ROOT / "Makefile", *(ROOT / "wxnotify").rglob("*.py")])
    stale = {name for name in listed - read if name not in elsewhere}
    assert stale == set(), "in README's configuration table, read nowhere"


# A file a document names with its folder (`wxsim/client.py`, `sending/rules.py`, `templates/404.html`): the
# code maps name files relative to the package of their bullet, so a name counts when a file in the
# repository ends with it. Not files of this repository: the npm package a vendored file was taken from.
NAMED_FILE = re.compile(r"`([\w./-]+/[\w.-]+\.(?:py|md|html|js|css|toml|txt))`")
NOT_OURS = {"dist/echarts.min.js"}


def test_every_file_the_documents_name_exists():
    files = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts]
    documents = ["README.md", "ARCHITECTURE.md", "CONTRIBUTING.md", "PRIVACY.md", "SECURITY.md", "wxsim/README.md"]
    named = {(doc, name) for doc in documents for name in NAMED_FILE.findall((ROOT / doc).read_text())}
    assert len(named) > 20  # the pattern still finds them
    missing = {
        (doc, name)
        for doc, name in named
        if name not in NOT_OURS and not any(f == name or f.endswith("/" + name) for f in files)
    }
    assert missing == set(), "named in a document, no such file in the repository"
