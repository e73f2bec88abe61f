/* Replays files through a libFuzzer target without libFuzzer, so that every
 * seed and every input that once crashed runs in the normal and sanitizer
 * test suites (meson suite "fuzz"). Arguments: files or directories (one
 * level). Fails when it ran no input at all, so a missing corpus is noticed. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX_INPUT (1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	uint8_t *buf = malloc(REPLAY_MAX_INPUT);
	if (buf == NULL) {
		fclose(f);
		return -1;
	}
	size_t n = fread(buf, 1, REPLAY_MAX_INPUT, f);
	int rc = ferror(f) ? -1 : 0;
	fclose(f);
	if (rc == 0) {
		/* a copy of exactly n bytes, so ASan sees reads past the input */
		uint8_t *exact = malloc(n ? n : 1);
		if (exact == NULL) {
			rc = -1;
		} else {
			memcpy(exact, buf, n);
			(void)LLVMFuzzerTestOneInput(exact, n);
			free(exact);
		}
	}
	free(buf);
	return rc;
}

static int replay_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		perror(dir);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rc = replay_file(path);
		if (rc == 0)
			(*count)++;
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		int rc = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) : replay_file(argv[i]);
		if (rc != 0)
			return 1;
		if (!S_ISDIR(st.st_mode))
			count++;
	}
	printf("replayed %zu inputs\n", count);
	return count > 0 ? 0 : 1;
}
