package blobfs

// WatchDirSyncs records the directories s syncs, in order; a failing sync
// fails with err.
func WatchDirSyncs(s *Store, err error) *[]string {
	var synced []string
	s.syncDir = func(dir string) error {
		synced = append(synced, dir)
		return err
	}
	return &synced
}
