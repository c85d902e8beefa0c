-- Databases and the application user for docker-compose.yml; the same
-- statements scripts/mariadb-up.sh runs on a plain machine.
CREATE DATABASE IF NOT EXISTS medisync_auth_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS medisync_doctor_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS medisync_patient_db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'medisync'@'%' IDENTIFIED BY 'medisync';
GRANT ALL ON `medisync\_%`.* TO 'medisync'@'%';
FLUSH PRIVILEGES;
