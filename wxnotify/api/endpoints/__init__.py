"""The API's resources, one router each, over the services and selectors the console uses."""
