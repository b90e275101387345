"""Services a lane needs (PostgreSQL, Redis, MySQL/MariaDB, custom), started before it and stopped after.

base.py is the contract (ServiceSpec, Endpoint, the Backend protocol); kinds/ says what each kind is
(one module per kind behind kinds.base.Kind); backends/ how a service gets running (docker, native,
external); templates.py and env.py the exported variables; manager.py the lifecycle and its state
file. Kept import-free: the config parser imports kinds and templates on every run.
"""
