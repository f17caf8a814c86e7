-- The common defect taxonomy (seed).
select defect_code, name_en as defect_name, name_ko as defect_name_ko, category as defect_category
from {{ ref('defect_types') }}
