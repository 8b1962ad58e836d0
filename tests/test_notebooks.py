"""The notebooks: each .ipynb is what its jupytext .py source makes, and each runs top to bottom
headless in smoke mode (TFMFN_SMOKE=1: tiny synthetic data, a few steps, no downloads)."""

import os

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

FOLDER = "notebooks"
NOTEBOOKS = ("01_train", "02_qat_convert", "03_evaluate_benchmark")


def cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_every_notebook_source_has_its_notebook():
    sources = sorted(name[:-3] for name in os.listdir(FOLDER) if name.endswith(".py"))
    notebooks = sorted(name[:-6] for name in os.listdir(FOLDER) if name.endswith(".ipynb"))
    assert sources == notebooks == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_in_sync_with_its_source(name):
    source = jupytext.read(os.path.join(FOLDER, name + ".py"))
    notebook = nbformat.read(os.path.join(FOLDER, name + ".ipynb"), as_version=4)
    assert cells(notebook) == cells(source), (
        f"notebooks/{name}.ipynb differs from notebooks/{name}.py; edit the .py and run make notebooks")
    assert all(not cell.get("outputs") for cell in notebook.cells), f"{name}.ipynb is committed with outputs"


def test_sync_check_notices_an_edited_cell(tmp_path):
    notebook = nbformat.read(os.path.join(FOLDER, NOTEBOOKS[0] + ".ipynb"), as_version=4)
    notebook.cells[2].source += "\nprint('edited in Jupyter only')"
    assert cells(notebook) != cells(jupytext.read(os.path.join(FOLDER, NOTEBOOKS[0] + ".py")))


def run_notebook(notebook, workdir):
    os.environ["TFMFN_SMOKE"] = "1"
    try:
        NotebookClient(notebook, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": workdir}}).execute()
    finally:
        del os.environ["TFMFN_SMOKE"]
    return notebook


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_in_smoke_mode(name):
    notebook = run_notebook(jupytext.read(os.path.join(FOLDER, name + ".py")), os.getcwd())
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code_cells)
    errors = [output for cell in code_cells for output in cell.outputs if output.output_type == "error"]
    assert not errors


def test_a_failing_cell_fails_the_run():
    notebook = jupytext.reads("# %%\nx = 1\n\n# %%\nraise RuntimeError('a broken cell')\n", fmt="py:percent")
    with pytest.raises(Exception, match="a broken cell"):
        run_notebook(notebook, os.getcwd())
