"""The examples of this folder need the full default region (a database and S3)."""


def pytest_configure(config):
    if not config.getoption("azchaos_env"):
        config.option.azchaos_env = "default"
