/* SPDX-License-Identifier: Apache-2.0 */
/* What an sd-bus client (bmcweb) makes of the service's answer to one call:
 *
 *   sdbus-errno ADDRESS OBJECT INTERFACE METHOD [URL]
 *
 * calls METHOD() — or, with URL, Legacy's Mount(sbv) with a string where the
 * fd variant belongs — on xyz.openbmc_project.VirtualMedia and prints
 * "errno=N name=NAME" (errno 0 when the call succeeded), the errno being
 * sd_bus_error_get_errno()'s: what bmcweb's error_code carries. */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

int main(int argc, char **argv)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	sd_bus *bus = NULL;
	int r;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: sdbus-errno ADDRESS OBJECT INTERFACE METHOD [URL]\n");
		return 2;
	}
	if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, argv[1])) < 0 ||
	    (r = sd_bus_set_bus_client(bus, 1)) < 0 || (r = sd_bus_start(bus)) < 0) {
		fprintf(stderr, "cannot connect to %s: %s\n", argv[1], strerror(-r));
		return 2;
	}
	if (argc == 6)
		r = sd_bus_call_method(bus, "xyz.openbmc_project.VirtualMedia", argv[2], argv[3],
				       argv[4], &error, &reply, "sbv", argv[5], 0, "s", "3");
	else
		r = sd_bus_call_method(bus, "xyz.openbmc_project.VirtualMedia", argv[2], argv[3],
				       argv[4], &error, &reply, "");
	printf("errno=%d name=%s\n", r < 0 ? sd_bus_error_get_errno(&error) : 0,
	       error.name ? error.name : "");
	sd_bus_error_free(&error);
	sd_bus_message_unref(reply);
	sd_bus_unref(bus);
	return 0;
}
