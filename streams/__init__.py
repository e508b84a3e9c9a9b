"""Stream processing (faust-streaming): lead intake, validation, de-duplication, routing."""
