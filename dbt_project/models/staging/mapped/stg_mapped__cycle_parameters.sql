-- cycle_parameters as the mapping delivers them, each delivered row once (the later load wins).
{{ deduplicated('cycle_parameters') }}
