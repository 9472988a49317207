"""A tiny profile build (two executed notebooks, three figures, a claims table) for the site tests."""
import io
import json
from pathlib import Path


def png_bytes(color: str) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1], color=color)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def make_build(root: Path, profile: str = "demo") -> Path:
    import base64

    import nbformat

    (root / "build" / profile).mkdir(parents=True)
    figs = root / "figures" / profile
    figs.mkdir(parents=True)
    for nb_name, stems in (("01_first", ["01_first_curve"]), ("02_second", ["02_second_a", "02_second_b"])):
        nb = nbformat.v4.new_notebook()
        nb.cells.append(nbformat.v4.new_markdown_cell(f"# {nb_name}\nSome text."))
        for stem in stems:
            cell = nbformat.v4.new_code_cell(f'plots.save(fig, "{stem}", "a caption")')
            data = base64.b64encode(png_bytes("C0")).decode()
            cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": data})]
            nb.cells.append(cell)
        # a figure named by an f-string, as notebooks do per run label
        nb.cells.append(nbformat.v4.new_code_cell('for k in keys:\n    plots.save(fig, f"' + nb_name
                                                  + '_run_{k}", "per run")'))
        nbformat.write(nb, root / "build" / profile / f"{nb_name}.ipynb")
        stems = stems + [f"{nb_name}_run_x"]
        for stem in stems:
            (figs / f"{stem}.png").write_bytes(png_bytes("C1"))
            (figs / f"{stem}.json").write_text(json.dumps({"stem": stem, "caption": f"caption of {stem}",
                                                           "profile": profile, "source": "abc123"}))
    (figs / "claims.md").write_text("# Claims\n\n| id | verdict | figures |\n| --- | --- | --- |\n"
                                    "| C1 | **agrees** | [01_first_curve](01_first_curve.png) |\n")
    return root
