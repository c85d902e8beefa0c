-- The databases of docker-compose.yml's MariaDB, one per service with a
-- database in services.txt (scripts/mariadb-up.sh creates the same ones on a
-- plain machine). The accounts come next, from mariadb-init.sh, whose
-- passwords are in the environment.
CREATE DATABASE IF NOT EXISTS medisync_auth_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS medisync_doctor_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS medisync_patient_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS medisync_appointment_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS medisync_records_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS medisync_notification_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
