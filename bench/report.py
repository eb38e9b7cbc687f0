def render() -> str:
    return "stub\n"
