"""One module per pipeline stage: read the previous stage's files, call the library, write
this stage's files atomically, and log to MLflow where the stage trains or registers a model.
The Prefect flows (the project's ``flows/``) call these and add only orchestration; the stage
code imports no Prefect, so it is tested directly and runs the same under any scheduler.
"""
