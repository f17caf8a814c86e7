-- work_orders as the mapping delivers them, each delivered row once (the later load wins).
{{ deduplicated('work_orders') }}
