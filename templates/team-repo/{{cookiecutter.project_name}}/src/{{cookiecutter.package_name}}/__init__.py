"""{{ cookiecutter.project_name }}: train, evaluate and serve a classifier (mlops-bp level {{ cookiecutter.level }})."""

__version__ = "0.1.0"
