"""`python -m hotline ...`: the same CLI as the `hotline` script, for a checkout that is not
installed (PYTHONPATH=. python -m hotline ...)."""

from hotline.cli import app

app(prog_name="hotline")
