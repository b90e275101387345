"""Publishing a saved report to GitHub: the job summary, step outputs, annotations and the sticky
pull-request comment (or, where the token cannot write, the comment as an artifact for a trusted
workflow to post).

The stage after `report`: it reads what a run left in its output dir and never changes a verdict. Modules:
`context` (the GITHUB_* variables and the event file), `client` (REST calls with retries and bounds),
`comment` (find-or-create the one comment), `pending` (the fork path's artifact), `summary`, `outputs`
and `annotations` (pure renderers and the files they append to).
"""
