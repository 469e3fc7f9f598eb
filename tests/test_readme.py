"""The README's two set-up commands are the ones the project promises, and CI runs the second."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_exactly_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    first_block = text.index("```sh")
    assert text[:first_block].strip() == "# modelcheck"
    commands = _setup_commands()
    assert len(commands) == 2
    assert commands[0].endswith("python -m modelcheck specs/vmsplice.py")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _setup_commands()[1] in ci


def test_the_readme_lists_the_invariants_the_world_declares():
    """The list of invariants under "Writing a spec" is generated (invariants.invariant_list())."""
    from modelcheck.cow.invariants import invariant_list

    text = (ROOT / "README.md").read_text()
    start, end = "<!-- invariants:", "<!-- /invariants -->"
    assert start in text and end in text
    block = text.split(start, 1)[1].split("\n", 1)[1].split(end, 1)[0]
    assert " ".join(block.split()) == invariant_list(), f"paste this between the markers:\n{invariant_list()}"


def test_the_readme_lists_the_operations_the_mechanisms_declare():
    """The list of operations under "Writing a spec" is generated (operations.operation_list()): a new
    operation declared with its mechanism shows up there, or this test says where to paste it."""
    from modelcheck.cow.operations import operation_list

    text = (ROOT / "README.md").read_text()
    start, end = "<!-- operations:", "<!-- /operations -->"
    assert start in text and end in text
    block = text.split(start, 1)[1].split("\n", 1)[1].split(end, 1)[0]
    assert " ".join(block.split()) == operation_list(), f"paste this between the markers:\n{operation_list()}"
