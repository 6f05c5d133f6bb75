"""valohai-image-lint: lint the Docker images named in valohai.yaml files."""

__version__ = "0.1.0"
