from tests.conftest import VACCINE_FIELDS as GOOD  # noqa: F401 - the campaign tests use this name
