"""secret_shapes.py — assignment shapes for secret cases (shared by
tests/scripts/gen_secret_cases.py and bench/secrets_gitleaks.py)."""

# The shapes config files and languages give an assignment (INI, JSON,
# XML, YAML, C#, Go, Java, Kotlin, PHP, Python, Java properties, Logstash,
# Make), {i} the identifier (a vendor name), {I} upper case, {s} the token.
# The same list gitleaks checks its rules against (its facts, our words).
SHAPES = [
    '{i}Token="{s}"', '{i}Token = "{s}"', "{i}Token={s}", "{i}Token = {s}",
    '{\n    "{i}_token": "{s}"\n}', '{"config.ini": "{I}_TOKEN={s}\\nBACKUP_ENABLED=true"}',
    "<{i}Token>\n    {s}\n</{i}Token>",
    "{i}_token: {s}", "{i}_token: '{s}'", '{i}_token: "{s}"',
    'string {i}Token = "{s}";', 'var {i}Token string = "{s}"', '{i}Token := "{s}"', "{i}Token := `{s}`",
    'String {i}Token = "{s}";', 'var {i}Token = "{s}"', '${i}Token .= "{s}"',
    "{i}Token = '{s}'", '{i}Token = "{s}"', 'System.setProperty("{I}_TOKEN", "{s}")', '  "{i}Token" => "{s}"',
    '{I}_TOKEN = "{s}"', '{I}_TOKEN := "{s}"', '{I}_TOKEN ::= "{s}"', '{I}_TOKEN :::= "{s}"', '{I}_TOKEN ?= "{s}"',
]
