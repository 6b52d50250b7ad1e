"""An initializer entry point that loads fine but is not callable (breaks the contract)."""

NOT_CALLABLE = {"this": "is a dict, not an initializer"}
