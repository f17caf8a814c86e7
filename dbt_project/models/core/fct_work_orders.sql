select
    client_id, work_order_id, product_id, machine_id, planned_quantity, produced_quantity, status,
    released_at, due_at, started_at, completed_at, source_name, source_file, source_row, load_batch_id
from {{ ref('stg_mapped__work_orders') }}
