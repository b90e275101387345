"""Services a lane needs (PostgreSQL, Redis, MySQL/MariaDB, custom), started before it and stopped after.

base.py is the contract (ServiceSpec, Endpoint, the Backend protocol); catalog.py the facts per kind;
docker.py, native.py and external.py the backends; manager.py the lifecycle and its state file;
env.py the exported variables. Kept import-free: config.py imports catalog on every run.
"""
