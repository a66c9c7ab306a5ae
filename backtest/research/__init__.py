"""Research on top of runs: parameter sweeps (``sweep``), optimisation with held-out checks (``optimize``), saved
and reloadable experiments (``experiment``), the shipped studies (``studies``: sweep studies, the replay and
instruments studies, the stylized facts of ``stylized``) and the paper's reproduction (``paper``).

These call the engine and return tables and results; drawing them is ``reports``'s job, and only the CLI (the
top of the flow) joins the two.
"""
