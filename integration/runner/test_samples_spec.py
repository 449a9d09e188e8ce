"""The sample pipeline modules declare exactly the tables of their djflow.yaml specs
(names, tiers, definitions, parts nested as dj.Part with ``-> master``). Checked
from the source with ast, so no database is needed."""

import ast
from pathlib import Path

import pytest
import yaml

from conftest import EPHYS_DIR, TUTORIAL_DIR

TIER_BASES = {"Manual": "manual", "Lookup": "lookup", "Imported": "imported", "Computed": "computed", "Part": "part"}


def normalize(definition):
    return [" ".join(line.split()) for line in definition.strip().splitlines() if line.strip()]


def declared_tables(module_path):
    """{'Recording': {'tier':..., 'definition':..., 'parts': {...}}} from the module source."""
    tree = ast.parse(Path(module_path).read_text())

    def describe(node):
        tier = None
        for base in node.bases:
            name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
            tier = TIER_BASES.get(name, tier)
        definition = None
        parts = {}
        for item in node.body:
            if isinstance(item, ast.Assign) and any(getattr(t, "id", None) == "definition" for t in item.targets):
                definition = ast.literal_eval(item.value)
            elif isinstance(item, ast.ClassDef):
                parts[item.name] = describe(item)
        return {"tier": tier, "definition": definition, "parts": parts,
                "has_make": any(isinstance(i, ast.FunctionDef) and i.name == "make" for i in node.body)}

    return {n.name: describe(n) for n in tree.body if isinstance(n, ast.ClassDef)}


@pytest.mark.parametrize("sample_dir, module", [(EPHYS_DIR, "ephys_pipeline.py"), (TUTORIAL_DIR, "tutorial_pipeline.py")],
                         ids=["ephys", "tutorial"])
def test_module_matches_spec(sample_dir, module):
    spec = yaml.safe_load((sample_dir / "djflow.yaml").read_text())
    assert spec["runner"]["module"] + ".py" == module
    tables = declared_tables(sample_dir / module)
    spec_tables = spec["tables"]
    masters = {n for n in spec_tables if "." not in n}
    assert set(tables) == masters, "module classes %s vs spec tables %s" % (sorted(tables), sorted(masters))
    for name, entry in spec_tables.items():
        if "." in name:
            master, part = name.split(".")
            got = tables[master]["parts"].get(part)
            assert got is not None, "%s missing as a nested dj.Part" % name
            assert got["tier"] == "part" and entry["tier"] == "part"
            assert normalize(got["definition"])[0] == "-> master"
        else:
            got = tables[name]
            assert got["tier"] == entry["tier"], name
            assert sorted(got["parts"]) == sorted(entry.get("parts", [])), name
            assert got["has_make"] == (entry["tier"] in ("imported", "computed")), name
        if "definition" in entry:
            assert normalize(got["definition"]) == normalize(entry["definition"]), name
        else:  # depends_on only: the module's definition has those primary foreign keys
            primary = normalize(got["definition"])
            primary = primary[:primary.index("---")] if "---" in primary else primary
            for parent in entry["depends_on"]:
                assert "-> " + parent in primary, (name, parent)
