pytest_plugins = ["tests.db_fixtures", "tests.gateway_fixtures"]
